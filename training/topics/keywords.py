"""Hand-written keyword lists per IPTC top-level topic (general news vocabulary; not
derived from the evaluation data). Used to make random keyword-bag pseudo documents."""

KEYWORDS = {
    "arts_culture_entertainment": """film movie actor actress director Hollywood box office premiere cinema studio
        album singer song band concert tour music festival Grammy Oscar Emmy award ceremony celebrity star
        television TV show series episode sitcom drama comedy comedian streaming Netflix documentary
        theatre Broadway musical play opera ballet orchestra museum gallery exhibition painting artist
        sculpture novel author book bestseller publisher poetry literature culture heritage
        rapper pop rock hip-hop record label chart DVD soundtrack sequel blockbuster cast casting
        magazine newspaper broadcaster journalist media radio presenter anchor entertainment fans""",
    "conflict_war_peace": """Ukraine Russia Russian Kyiv drone drones Gaza IDF Houthi Syria Yemen war troops soldiers army military forces offensive airstrike airstrikes bombing
        bomb explosion blast suicide bomber militants insurgents insurgency rebels guerrillas militia
        fighters gunmen attack ambush killed wounded casualties ceasefire truce peace talks negotiations
        hostage hostages kidnapped kidnappers beheaded terrorism terrorist al-Qaeda Taliban jihadist
        occupation invasion battle fighting clashes shelling artillery missile rocket tanks frontline
        siege peacekeepers UN peacekeeping disarmament weapons nuclear warhead coup uprising
        marines commander general Pentagon defence defense ministry ministry security forces
        Iraq Afghanistan Baghdad Fallujah Gaza Israel Palestinian Hamas Hezbollah Sudan Darfur Chechnya""",
    "crime_law_justice": """police arrest arrested suspect charged charges murder killing homicide shooting
        stabbing robbery theft fraud embezzlement bribery corruption money laundering drug trafficking
        cocaine gang court judge jury trial verdict guilty acquitted sentenced prison jail convicted
        prosecutor prosecutors attorney lawyer lawsuit sued indictment indicted appeal Supreme Court
        ruling constitution law legal justice investigation detectives FBI crime criminal inmate
        parole death penalty execution extradition fugitive smuggling hacker cybercrime scam
        settlement fine penalty regulator probe subpoena testimony witness defendant plaintiff""",
    "disaster_accident": """earthquake quake tsunami hurricane typhoon cyclone tornado flood floods flooding
        landslide mudslide avalanche volcano eruption wildfire fire blaze drought famine disaster
        crash plane crash air crash helicopter train derailment collision accident bus crash
        ferry capsized sank shipwreck explosion mine collapse rescue rescuers survivors victims
        death toll killed injured missing evacuated evacuation emergency relief aid Red Cross
        devastation damage destroyed homeless displaced firefighters coast guard search""",
    "economy_business_finance": """Amazon startup startups crypto bitcoin supply chain stocks shares stock market Wall Street Dow Jones Nasdaq S&P index investors
        trading traders profit profits earnings revenue sales quarterly quarter forecast outlook analysts
        company companies corporation firm chief executive CEO board shareholders dividend
        merger acquisition takeover deal bid buyout acquire stake IPO bankruptcy restructuring layoffs
        economy economic growth GDP recession inflation interest rates Federal Reserve central bank
        ECB dollar euro yen currency bonds Treasury yields oil prices crude barrel OPEC gasoline
        retail retailer consumer spending jobs unemployment payrolls housing mortgage bank banks
        banking lender loans credit debt insurer insurance airline carmaker automaker manufacturer
        exports imports trade deficit tariffs billion million percent price prices market markets
        Wal-Mart Boeing Airbus General Motors Ford Toyota Exxon Citigroup Goldman Sachs""",
    "education": """school schools pupils students teachers teacher classroom curriculum exam exams
        grades university universities college campus tuition fees scholarship degree graduates
        education ministry of education kindergarten literacy learning academic professor
        enrolment admissions textbook homework school board principal headteacher""",
    "environment": """climate change global warming emissions carbon dioxide greenhouse gases pollution
        environment environmental conservation wildlife endangered species habitat biodiversity
        deforestation rainforest forests recycling plastic waste renewable energy solar wind power
        sustainability Kyoto protocol ozone ecosystems oceans coral reefs whales polar bears
        national park green activists Greenpeace toxic contamination""",
    "health": """health hospital hospitals doctor doctors nurses patients disease diseases virus
        infection infections outbreak epidemic pandemic flu influenza bird flu vaccine vaccination
        cancer tumor heart disease diabetes obesity HIV AIDS malaria tuberculosis drug drugs
        medicine treatment therapy clinical trial FDA approval pharmaceutical prescription
        surgery symptoms diet nutrition exercise smoking mental health depression wellness
        healthcare health care insurance World Health Organization study researchers risk""",
    "human_interest": """oddly quirky bizarre unusual heartwarming birthday centenarian oldest
        pet dog cat animal rescued reunited lottery winner record-breaking world record
        royal baby anniversary celebration hero surprise viral strange weird funny""",
    "labour": """strike strikes striking workers union unions trade union walkout industrial action
        wages wage pay pay rise minimum wage pensions employment employees employer
        labor labour collective bargaining layoffs jobs working conditions overtime picket""",
    "lifestyle_leisure": """travel holiday vacation tourism tourists destination hotel resort beach cruise
        food recipe recipes cooking chef restaurant dining wine cuisine fashion style designer
        clothing beauty makeup home garden gardening decorating interior design hobby leisure
        shopping wedding relationships dating fitness yoga""",
    "politics": """Trump Biden Harris Zelensky Starmer Macron Xi Jinping Modi Brexit Capitol election elections vote votes voters ballot poll polls campaign candidate candidates
        president presidential prime minister government parliament parliamentary congress senate
        senator lawmakers legislation bill law policy party parties opposition coalition ruling
        Republican Republicans Democrat Democrats Bush Kerry White House administration cabinet
        minister ministers foreign minister diplomat diplomats diplomacy talks summit United Nations
        UN Security Council European Union EU NATO sanctions treaty embassy ambassador
        referendum constitution reform protest protesters opposition leader regime dictator
        Kremlin Putin Blair Downing Street Tehran Iran North Korea nuclear talks""",
    "religion": """church churches pope Vatican Catholic bishop bishops priest priests cardinal
        Christian Christians Muslim Muslims Islam Islamic mosque imam Jewish Jews synagogue rabbi
        Hindu Buddhist temple faith religious religion worship prayer pilgrims Bible Koran
        Christmas Easter Ramadan clergy theology believers""",
    "science_technology": """AI OpenAI ChatGPT Nvidia Meta Facebook Instagram TikTok iPhone Android Tesla SpaceX app apps cloud cybersecurity quantum technology tech software hardware computer computers PC laptop chip chips
        processor semiconductor Intel AMD Microsoft Windows Apple iPod Mac Google search engine Yahoo
        internet online web website browser email e-mail spam virus worm hackers security flaw patch
        broadband wireless Wi-Fi mobile phone cell phone smartphone handset network telecom
        Linux open source programmers developers IBM Sun Oracle database server data storage
        digital music download video game games console PlayStation Xbox Nintendo gadget device
        science scientists research researchers study discovery discovered space NASA shuttle
        rocket satellite orbit Mars moon planet astronomers telescope galaxy stars physics
        chemistry biology genes genetic DNA species fossil dinosaur evolution climate data
        robot robots artificial intelligence nanotechnology laboratory experiment""",
    "society": """society social community communities family families children parenting parents
        poverty poor homeless homelessness welfare inequality discrimination racism civil rights
        equality women gender LGBT gay lesbian transgender same-sex marriage immigration immigrants
        refugees migrants elderly ageing charity volunteers nonprofit population census""",
    "sport": """NFL draft Super Bowl Champions League LeBron Messi Ronaldo sport sports game match matches team teams player players coach manager season league
        championship champion champions tournament final semifinal cup World Cup Olympics Olympic
        medal gold silver win won victory defeat beat lost draw score scored goal goals
        football soccer baseball basketball hockey tennis golf cricket rugby boxing cycling
        Formula One racing driver Grand Prix NFL NBA NHL MLB Premier League quarterback pitcher
        innings touchdown striker midfielder goalkeeper inning playoffs Wimbledon Masters
        Yankees Red Sox Lakers Manchester United Chelsea Arsenal Real Madrid athlete athletes
        stadium fans injury injured contract transfer sprint marathon""",
    "weather": """weather forecast forecasters meteorologists temperatures temperature heatwave heat wave
        cold snap snow snowfall blizzard rain rainfall showers storm storms wind gusts frost fog
        sunshine sunny cloudy thunderstorms Met Office National Weather Service humidity""",
}


def keyword_lists():
    out = {}
    for k, v in KEYWORDS.items():
        out[k] = v.split()
    return out
